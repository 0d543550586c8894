//! `mailroom account add|passwd|import|remove|rename|list|show|mail-secret|smime-cert|admin|quota`:
//! accounts, their passwords (clear, hashed, or a Dovecot passwd-file), mail secrets,
//! S/MIME certificates, administrator rights and quotas, making a new account's mail
//! store, and renaming an account with its mail store.
//!
//! Password schemes and the account rules live in `mailroom-directory`; the mail store
//! in `mailroom-store`; certificates are read and checked by `mailroom-smime`.

use super::open_directory;
use crate::cli::{AccountOp, PasswordArgs};
use anyhow::{anyhow, bail, Context, Result};
use mailroom_directory::Secret;
use mailroom_server::Config;
use std::process::ExitCode;

/// How an account's new password was given.
enum NewPassword {
    Clear(Secret),
    Hash(String),
}

pub fn run(config: &Config, op: AccountOp) -> Result<ExitCode> {
    let dir = open_directory(config)?;
    match op {
        AccountOp::Add {
            name,
            password,
            admin,
        } => {
            let a = match read_password(&password)? {
                NewPassword::Clear(pw) => dir.add_account(&name, &pw)?,
                NewPassword::Hash(h) => dir.add_account_with_hash(&name, &h)?,
            };
            if admin {
                dir.set_admin(&a.address(), true)?;
            }
            make_stores(config, std::slice::from_ref(&a));
            println!("account {} added", a.address());
        }
        AccountOp::Passwd { name, password } => {
            match read_password(&password)? {
                NewPassword::Clear(pw) => dir.set_password(&name, &pw)?,
                NewPassword::Hash(h) => dir.set_password_hash(&name, &h)?,
            }
            println!("password of {} changed", dir.account(&name)?.address());
        }
        AccountOp::Import {
            file,
            default_scheme,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let (mut added, mut updated, mut failed) = (Vec::new(), 0usize, 0usize);
            for (i, line) in text.lines().enumerate() {
                let at = format!("{}:{}", file.display(), i + 1);
                let (name, hash) = match passwd_line(line, &default_scheme) {
                    Ok(Some(x)) => x,
                    Ok(None) => continue,
                    Err(e) => {
                        eprintln!("mailroom: {at}: {e}");
                        failed += 1;
                        continue;
                    }
                };
                let r = if dir.account(&name).is_ok() {
                    dir.set_password_hash(&name, &hash).map(|()| None)
                } else {
                    dir.add_account_with_hash(&name, &hash).map(Some)
                };
                match r {
                    Ok(Some(a)) => added.push(a),
                    Ok(None) => updated += 1,
                    Err(e) => {
                        eprintln!("mailroom: {at}: {name}: {e}");
                        failed += 1;
                    }
                }
            }
            make_stores(config, &added);
            println!(
                "{} accounts added, {updated} updated, {failed} lines refused",
                added.len()
            );
            if failed > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        AccountOp::Remove { name } => {
            let a = dir.remove_account(&name)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let store = rt.block_on(super::open_store(config))?;
            let (d, n) = a.store_key();
            if let Some(key) = mailroom_store::AccountKey::new(&d, &n) {
                rt.block_on(store.remove_account(&key))?;
            }
            println!("account {} removed", a.address());
        }
        AccountOp::Rename {
            name,
            new_name,
            keep_alias,
        } => {
            drop(dir);
            return rename(config, &name, &new_name, keep_alias);
        }
        AccountOp::List { domain } => {
            for a in dir.list_accounts(domain.as_deref())? {
                let mut extra = String::new();
                if a.admin {
                    extra.push_str(" admin");
                }
                if a.has_mail_secret {
                    extra.push_str(" mail-secret");
                }
                println!("{}{extra}", a.address());
            }
        }
        AccountOp::MailSecret { name, clear } => {
            if clear {
                dir.set_mail_secret(&name, None)?;
                println!("mail secret of {} cleared", dir.account(&name)?.address());
            } else {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                let s = line.trim_end_matches(['\r', '\n']);
                if s.is_empty() {
                    bail!("empty mail secret on standard input");
                }
                dir.set_mail_secret(&name, Some(&Secret::from(s)))?;
                println!("mail secret of {} set", dir.account(&name)?.address());
            }
        }
        AccountOp::Quota {
            name,
            size,
            messages,
        } => {
            let storage = parse_quota_size(&size)?;
            let messages = match messages {
                Some(m) => parse_quota_count(&m)?,
                None => dir.quota(&name)?.messages,
            };
            let q = dir.set_quota(&name, storage, messages)?;
            println!(
                "quota of {}: {}",
                dir.account(&name)?.address(),
                show_quota(&q)
            );
        }
        AccountOp::SmimeCert { name, file, clear } => {
            let address = dir.account(&name)?.address();
            match file {
                Some(file) if !clear => {
                    let bytes = std::fs::read(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    let r = mailroom_smime::Recipient::from_pem_or_der(&bytes)
                        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
                    dir.set_smime_cert(&name, Some(&r.to_der()))?;
                    let s = r.summary();
                    println!("S/MIME certificate of {address} set: {}", smime_line(&s));
                    if s.not_after_unix < now_unix() {
                        eprintln!("mailroom: warning: the certificate expired {}", s.not_after);
                    }
                }
                _ => {
                    dir.set_smime_cert(&name, None)?;
                    println!("S/MIME certificate of {address} cleared");
                }
            }
        }
        AccountOp::Show { name } => {
            let a = dir.account(&name)?;
            let yes_no = |b: bool| if b { "yes" } else { "no" };
            println!("account {}", a.address());
            println!("admin {}", yes_no(a.admin));
            println!("mail-secret {}", yes_no(a.has_mail_secret));
            println!("quota {}", show_quota(&dir.quota_of(&a)?));
            let cert = match dir.smime_cert_of(a.id)? {
                None => "none".to_string(),
                Some(der) => match mailroom_smime::Recipient::from_der(&der) {
                    Ok(r) => smime_line(&r.summary()),
                    Err(e) => format!("unusable ({e})"),
                },
            };
            println!("smime-cert {cert}");
        }
        AccountOp::Admin { name, off } => {
            dir.set_admin(&name, !off)?;
            println!(
                "{} is {} administrator",
                dir.account(&name)?.address(),
                if off { "no longer an" } else { "now an" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_password(p: &PasswordArgs) -> Result<NewPassword> {
    if let Some(h) = &p.password_hash {
        return Ok(NewPassword::Hash(h.clone()));
    }
    if let Some(pw) = &p.password {
        return Ok(NewPassword::Clear(Secret::from(pw.as_str())));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']);
    if pw.is_empty() {
        bail!("empty password on standard input");
    }
    Ok(NewPassword::Clear(Secret::from(pw)))
}

/// Makes an account's mail store (Maildir, index, default mailboxes), so the first login
/// finds it ready; on failure the first login makes it, and this only warns.
fn make_stores(config: &Config, accounts: &[mailroom_directory::AccountInfo]) {
    let made = (|| -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let store = rt.block_on(super::open_store(config))?;
        rt.block_on(async {
            for a in accounts {
                let (d, n) = a.store_key();
                let Some(key) = mailroom_store::AccountKey::new(&d, &n) else {
                    continue;
                };
                let r = async {
                    let acc = store.open_account(&key).await?;
                    acc.ensure_mailboxes(mailroom_server::imap::DEFAULT_MAILBOXES)
                        .await
                }
                .await;
                if let Err(e) = r {
                    eprintln!("mailroom: warning: the mail store of {} will be made at its first login: {e}", a.address());
                }
            }
        });
        Ok(())
    })();
    if let Err(e) = made {
        eprintln!("mailroom: warning: the mail stores will be made at the first logins: {e}");
    }
}

/// One passwd-file line: `(name, hash)`, or `None` for a comment or a blank line.
pub(crate) fn passwd_line(line: &str, default_scheme: &str) -> Result<Option<(String, String)>> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() || line.trim_start().starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.splitn(3, ':');
    let name = fields.next().unwrap_or_default().trim();
    let Some(hash) = fields.next() else {
        bail!("no password field (NAME:{{SCHEME}}HASH)");
    };
    if name.is_empty() {
        bail!("empty user name");
    }
    let hash = if hash.starts_with('{') || hash.starts_with('$') {
        hash.to_string()
    } else {
        format!("{{{}}}{hash}", default_scheme.to_ascii_uppercase())
    };
    Ok(Some((name.to_string(), hash)))
}

/// Parses a quota size: `none`, bytes, or a number with `K`, `M`, `G`, `T` (KiB units,
/// optionally followed by `B`/`iB`). Returns KiB, rounded up.
fn parse_quota_size(raw: &str) -> Result<Option<u64>> {
    let s = raw.trim();
    if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let upper = s.to_ascii_uppercase();
    let t = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, mult): (&str, u64) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| anyhow!("invalid size {raw:?}: use bytes, 500K, 100M, 2G or none"))?;
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| anyhow!("size {raw:?} is too large"))?;
    Ok(Some(bytes.div_ceil(1024)))
}

fn parse_quota_count(raw: &str) -> Result<Option<u64>> {
    if raw.trim().eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    Ok(Some(raw.trim().parse().map_err(|_| {
        anyhow!("invalid message count {raw:?}: a number or none")
    })?))
}

/// `subject "CN=...", expires 2027-01-01T00:00:00Z (expired), RSA 2048 bits`.
fn smime_line(s: &mailroom_smime::Summary) -> String {
    let expired = if s.not_after_unix < now_unix() {
        " (expired)"
    } else {
        ""
    };
    format!(
        "subject \"{}\", expires {}{expired}, {}",
        s.subject, s.not_after, s.key
    )
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn show_quota(q: &mailroom_directory::QuotaLimits) -> String {
    let s = q
        .storage_kib
        .map_or("none".to_string(), |k| format!("{k} KiB"));
    let m = q.messages.map_or("none".to_string(), |m| m.to_string());
    format!("storage {s}, messages {m}")
}

/// `account rename`: the mail store moves (no one can open the old or the new account
/// meanwhile, in any process: deliveries are retried, logins told to try again), the
/// directory renames the account in the same step, then the ACL entries that name the
/// old address in other accounts' stores are rewritten. Refused while the running server
/// has sessions of the account.
fn rename(config: &Config, name: &str, new_name: &str, keep_alias: bool) -> Result<ExitCode> {
    let dir = std::sync::Arc::new(open_directory(config)?);
    let old = dir.account(name)?;
    let old_addr = old.address();
    let sock = mailroom_server::server::admin_path(config);
    if let Ok(list) = mailroom_server::admin::request(&sock, "sessions") {
        let busy = list.lines().skip(1).any(|l| {
            l.split('\t')
                .nth(2)
                .is_some_and(|a| a == old_addr || a == old.name)
        });
        if busy {
            bail!("{old_addr} has sessions on the running server (`mailroom sessions`); try again when they ended");
        }
    }
    let (n, d) = match new_name
        .trim()
        .rsplit_once('@')
        .or_else(|| new_name.trim().rsplit_once('%'))
    {
        Some((n, d)) => (n.to_ascii_lowercase(), d.to_ascii_lowercase()),
        None => (new_name.trim().to_ascii_lowercase(), dir.main_domain()),
    };
    let (od, on) = old.store_key();
    let from = mailroom_store::AccountKey::new(&od, &on)
        .ok_or_else(|| anyhow!("{old_addr}: not a valid store key"))?;
    let to = mailroom_store::AccountKey::new(&d, &n)
        .ok_or_else(|| anyhow!("{new_name}: not a valid account name"))?;
    let rt = super::runtime()?;
    let store = rt.block_on(super::open_store(config))?;
    let (d2, old_name, new_spec) = (dir.clone(), name.to_string(), new_name.to_string());
    let renamed = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = renamed.clone();
    let then = Box::new(move || -> Result<(), mailroom_store::StoreError> {
        let r = d2
            .rename_account(&old_name, &new_spec)
            .map_err(|e| mailroom_store::StoreError::Invalid(e.to_string()))?;
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r.1);
        Ok(())
    });
    match rt.block_on(store.rename_account(&from, &to, then)) {
        Ok(()) => {}
        // No mail store yet (never logged in, never delivered to): the directory alone.
        Err(mailroom_store::StoreError::NotFound(_)) => {
            let (_, new) = dir.rename_account(name, new_name)?;
            *renamed.lock().unwrap_or_else(|e| e.into_inner()) = Some(new);
        }
        Err(e) => bail!("{old_addr} not renamed: {e}"),
    }
    let new = renamed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or_else(|| anyhow!("the directory did not rename {old_addr}"))?;
    let new_addr = new.address();
    // ACL entries naming the old address, in the stores of those who granted them.
    let mut failed = false;
    for owner in dir.owners_granting(&new_addr)? {
        let r = rt.block_on(async {
            let (_, acc) = super::open_account(config, &dir, &owner.address()).await?;
            for (mb, e) in acc.all_acls().await? {
                let (neg, id) = match e.identifier.strip_prefix('-') {
                    Some(id) => ("-", id),
                    None => ("", e.identifier.as_str()),
                };
                if id == old_addr {
                    acc.set_acl(mb, &format!("{neg}{new_addr}"), e.rights)
                        .await?;
                    acc.delete_acl(mb, &e.identifier).await?;
                }
            }
            anyhow::Ok(())
        });
        if let Err(e) = r {
            eprintln!(
                "mailroom: warning: ACLs of {} still name {old_addr}: {e:#}",
                owner.address()
            );
            failed = true;
        }
    }
    if keep_alias {
        dir.add_alias(&old_addr, &new_addr)?;
        println!("alias {old_addr} -> {new_addr} added");
    }
    println!("account {old_addr} renamed to {new_addr}");
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
