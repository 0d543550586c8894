//! Group commit of index writes: concurrent writes of one account (appends, copies,
//! moves, expunges) share one index transaction.
//!
//! A writer queues its job and then takes the index connection. Whoever gets it first
//! (the leader) takes every queued job, runs each inside a savepoint of one `BEGIN
//! IMMEDIATE` transaction (a job that fails is rolled back to its savepoint alone, and
//! undoes what it did to files), commits once, catches the mailbox states up and only
//! then hands each job its result. The writers whose jobs it ran find their results when
//! they get the connection in turn, and return at once. So N concurrent writes cost one
//! transaction, one WAL append and one state catch-up per mailbox instead of N; and the
//! directory flush that makes them durable is shared the same way ([`super::durable`]).
//!
//! Architecture invariant: a job's result is handed out only after the transaction that
//! holds it committed; when the commit fails, every job of the batch fails and undoes its
//! file changes (nothing is acknowledged that is not in the index).
//!
//! Architecture invariant: the queue is drained only by a thread that holds the index
//! connection, so a writer that gets the connection and finds no result still has its
//! job in the queue.

use super::flags::light_sync;
use super::rows::exec;
use super::Core;
use crate::maildir::index::sql_err;
use crate::StoreError;
use rusqlite::{Transaction, TransactionBehavior};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// What a job did besides its rows: the mailboxes it changed (caught up and announced
/// after the commit) and how to undo its file changes if the batch does not commit.
#[derive(Default)]
pub(super) struct Effects {
    changed: Vec<i64>,
    undo: Vec<Box<dyn FnOnce() + Send>>,
    after: Vec<Box<dyn FnOnce() + Send>>,
}

impl Effects {
    /// The job changed `mailbox`: its state is caught up and the hub told after commit.
    pub(super) fn changed(&mut self, mailbox: i64) {
        self.changed.push(mailbox);
    }

    /// Runs `f` if the job's changes do not commit (newest first).
    pub(super) fn on_rollback(&mut self, f: impl FnOnce() + Send + 'static) {
        self.undo.push(Box::new(f));
    }

    /// Runs `f` once the job's changes committed (before its caller hears of it).
    pub(super) fn on_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.after.push(Box::new(f));
    }

    fn roll_back(self) {
        for f in self.undo.into_iter().rev() {
            f();
        }
    }
}

/// A queued write, type-erased.
trait Job: Send {
    fn run(
        &mut self,
        core: &Core,
        tx: &Transaction<'_>,
        eff: &mut Effects,
    ) -> Result<(), StoreError>;
    /// Hands out the result: the job's value, or `err`.
    fn finish(self: Box<Self>, err: Option<StoreError>);
}

type Slot<T> = Arc<Mutex<Option<Result<T, StoreError>>>>;

struct Typed<T, F> {
    f: Option<F>,
    value: Option<T>,
    slot: Slot<T>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send,
    F: FnOnce(&Core, &Transaction<'_>, &mut Effects) -> Result<T, StoreError> + Send,
{
    fn run(
        &mut self,
        core: &Core,
        tx: &Transaction<'_>,
        eff: &mut Effects,
    ) -> Result<(), StoreError> {
        let f = self
            .f
            .take()
            .ok_or_else(|| StoreError::Corrupt("a batched write ran twice".into()))?;
        self.value = Some(f(core, tx, eff)?);
        Ok(())
    }

    fn finish(mut self: Box<Self>, err: Option<StoreError>) {
        let r = match (err, self.value.take()) {
            (Some(e), _) => Err(e),
            (None, Some(v)) => Ok(v),
            (None, None) => Err(StoreError::Corrupt("a batched write has no result".into())),
        };
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    }
}

struct Queued {
    id: u64,
    job: Box<dyn Job>,
}

/// The queue of one account's writes.
#[derive(Default)]
pub(super) struct Batch {
    queue: Mutex<(u64, Vec<Queued>)>,
    /// Transactions run and jobs committed in them (for tests and benchmarks).
    transactions: std::sync::atomic::AtomicU64,
    jobs: std::sync::atomic::AtomicU64,
}

fn take<T>(slot: &Slot<T>) -> Option<Result<T, StoreError>> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

impl Core {
    /// Runs `f` in the account's next index write transaction, shared with the writes
    /// queued at the same time (see the module docs); returns once it committed. Blocks:
    /// call it from the blocking pool.
    pub(super) fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Core, &Transaction<'_>, &mut Effects) -> Result<T, StoreError> + Send + 'static,
    {
        let slot: Slot<T> = Arc::new(Mutex::new(None));
        let id = {
            let mut q = self.batch.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.0 += 1;
            let id = q.0;
            q.1.push(Queued {
                id,
                job: Box::new(Typed {
                    f: Some(f),
                    value: None,
                    slot: Arc::clone(&slot),
                }),
            });
            id
        };
        let mut conn = match self.conn() {
            Ok(c) => c,
            Err(e) => {
                // No connection (the index cannot be opened): take the job back out,
                // unless a leader already ran it.
                if let Some(r) = take(&slot) {
                    return r;
                }
                let mut q = self.batch.queue.lock().unwrap_or_else(|e| e.into_inner());
                q.1.retain(|j| j.id != id);
                return Err(e);
            }
        };
        if let Some(r) = take(&slot) {
            return r; // a leader ran it
        }
        let jobs =
            std::mem::take(&mut self.batch.queue.lock().unwrap_or_else(|e| e.into_inner()).1);
        let result = light_sync(&mut conn, |conn| {
            let began = std::time::Instant::now();
            let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
                Ok(tx) => tx,
                Err(e) => {
                    let why = sql_err(e);
                    for j in jobs {
                        j.job.finish(Some(same_error(&why)));
                    }
                    return Err(why);
                }
            };
            let mut done: Vec<(Box<dyn Job>, Effects)> = Vec::new();
            let mut broken: Option<StoreError> = None;
            // A job alone needs no savepoint: if it fails, the transaction rolls back.
            let alone = jobs.len() == 1;
            for Queued { mut job, .. } in jobs {
                if let Some(why) = &broken {
                    job.finish(Some(same_error(why)));
                    continue;
                }
                let mut eff = Effects::default();
                if alone {
                    match job.run(self, &tx, &mut eff) {
                        Ok(()) => done.push((job, eff)),
                        Err(e) => {
                            eff.roll_back();
                            job.finish(Some(e));
                            broken = Some(StoreError::Index("its only write failed".into()));
                        }
                    }
                    continue;
                }
                if let Err(e) = exec(&tx, "SAVEPOINT job", []).map_err(sql_err) {
                    broken = Some(e);
                    job.finish(broken.as_ref().map(same_error));
                    continue;
                }
                match job.run(self, &tx, &mut eff) {
                    Ok(()) => match exec(&tx, "RELEASE job", []) {
                        Ok(_) => done.push((job, eff)),
                        Err(e) => {
                            eff.roll_back();
                            broken = Some(sql_err(e));
                            job.finish(broken.as_ref().map(same_error));
                        }
                    },
                    Err(e) => {
                        eff.roll_back();
                        job.finish(Some(e));
                        let undone = exec(&tx, "ROLLBACK TO job", [])
                            .and_then(|_| exec(&tx, "RELEASE job", []));
                        if let Err(e) = undone {
                            broken = Some(sql_err(e));
                        }
                    }
                }
            }
            let committed = match broken {
                Some(e) => {
                    drop(tx); // rolls the whole batch back
                    Err(e)
                }
                None => tx.commit().map_err(sql_err),
            };
            if committed.is_ok() {
                // Named as in `mailroom_server::metrics::STORE_COMMIT_SECONDS`.
                metrics::histogram!("mailroom_store_commit_duration_seconds")
                    .record(began.elapsed().as_secs_f64());
            }
            match committed {
                Ok(()) => {
                    use std::sync::atomic::Ordering::Relaxed;
                    if !done.is_empty() {
                        self.batch.transactions.fetch_add(1, Relaxed);
                        self.batch.jobs.fetch_add(done.len() as u64, Relaxed);
                    }
                    let changed: BTreeSet<i64> = done
                        .iter()
                        .flat_map(|(_, e)| e.changed.iter().copied())
                        .collect();
                    for id in changed {
                        self.changed(conn, id);
                    }
                    for (job, eff) in done {
                        for f in eff.after {
                            f();
                        }
                        job.finish(None);
                    }
                    Ok(())
                }
                Err(why) => {
                    for (job, eff) in done {
                        eff.roll_back();
                        job.finish(Some(same_error(&why)));
                    }
                    Err(why)
                }
            }
        });
        drop(conn);
        match take(&slot) {
            Some(r) => r,
            None => Err(result
                .err()
                .unwrap_or_else(|| StoreError::Corrupt("a batched write was lost".into()))),
        }
    }
}

impl Core {
    /// Runs `f` in a write transaction of its own on the caller's thread when the index
    /// connection is free and nothing has to wait ([`Core::without_waiting`]), with
    /// unflushed commits ([`light_sync`]); catches the changed mailboxes up and runs the
    /// job's commit hooks, as a batch does. `None`: take the blocking path
    /// ([`Core::write`]); `f` did nothing that stays (its transaction rolled back, its
    /// undo hooks ran).
    pub(super) fn write_now<T, F>(&self, f: F) -> Option<Result<T, StoreError>>
    where
        F: FnOnce(&Core, &Transaction<'_>, &mut Effects) -> Result<T, StoreError>,
    {
        self.without_waiting(|guard| {
            light_sync(guard, |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(sql_err)?;
                let mut eff = Effects::default();
                let v = match f(self, &tx, &mut eff) {
                    Ok(v) => v,
                    Err(e) => {
                        drop(tx);
                        eff.roll_back();
                        return Err(e);
                    }
                };
                if let Err(e) = tx.commit() {
                    eff.roll_back();
                    return Err(sql_err(e));
                }
                use std::sync::atomic::Ordering::Relaxed;
                self.batch.transactions.fetch_add(1, Relaxed);
                self.batch.jobs.fetch_add(1, Relaxed);
                let changed: BTreeSet<i64> = eff.changed.iter().copied().collect();
                for id in changed {
                    self.changed(conn, id);
                }
                for f in eff.after {
                    f();
                }
                Ok(v)
            })
        })
    }

    /// (write transactions committed, jobs committed in them) since the account opened.
    pub fn write_batches(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.batch.transactions.load(Relaxed),
            self.batch.jobs.load(Relaxed),
        )
    }
}

/// One failure of a whole batch, as each of its jobs reports it.
fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Busy => StoreError::Busy,
        StoreError::Io(io) => StoreError::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => StoreError::Index(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::rows::exec;
    use super::*;
    use crate::hub::LocalHub;
    use crate::maildir::watch::Tracker;
    use crate::{AccountKey, MailboxId};
    use rusqlite::params;
    use std::sync::Barrier;

    fn core(dir: &std::path::Path) -> Arc<Core> {
        let key = AccountKey::new("example.org", "batch").expect("key");
        let hub = Arc::new(LocalHub::new(None));
        Arc::new(Core::open(key, dir, hub, Arc::new(Tracker::default())).expect("open"))
    }

    /// Bumps the INBOX's UIDNEXT by one, returning the UID it took, as an append does.
    fn take_uid(tx: &Transaction<'_>, inbox: MailboxId, fail: bool) -> Result<u32, StoreError> {
        let uid: u32 = tx
            .query_row(
                "SELECT uidnext FROM mailboxes WHERE id = ?1",
                [inbox.0],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        exec(
            tx,
            "UPDATE mailboxes SET uidnext = ?2 WHERE id = ?1",
            params![inbox.0, uid + 1],
        )
        .map_err(sql_err)?;
        if fail {
            return Err(StoreError::Invalid("this job fails".into()));
        }
        Ok(uid)
    }

    /// Concurrent writers share transactions; each gets its own result, a failing job is
    /// rolled back alone (its UID is handed out again) and undoes its file changes.
    #[test]
    fn concurrent_writes_share_transactions_and_fail_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = core(dir.path());
        let inbox = MailboxId(c.mailbox("INBOX").expect("INBOX").id.0);
        let first: u32 = c
            .conn()
            .expect("conn")
            .query_row(
                "SELECT uidnext FROM mailboxes WHERE id = ?1",
                [inbox.0],
                |r| r.get(0),
            )
            .expect("uidnext");
        let undone = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let threads = 16;
        let each = 40;
        let start = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (c, start, undone) = (Arc::clone(&c), Arc::clone(&start), Arc::clone(&undone));
                std::thread::spawn(move || {
                    start.wait();
                    let mut got = Vec::new();
                    for i in 0..each {
                        let fail = (t * each + i) % 7 == 3;
                        let undone = Arc::clone(&undone);
                        let r = c.write(move |_, tx, eff| {
                            eff.on_rollback(move || {
                                undone.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            });
                            take_uid(tx, inbox, fail)
                        });
                        match (fail, r) {
                            (false, Ok(uid)) => got.push(uid),
                            (true, Err(StoreError::Invalid(_))) => {}
                            (f, r) => panic!("job fail={f} got {r:?}"),
                        }
                    }
                    got
                })
            })
            .collect();
        let mut uids: Vec<u32> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect();
        uids.sort_unstable();
        let ok = uids.len() as u32;
        // Every successful job got a distinct UID, with no gap: failed ones gave theirs back.
        assert_eq!(uids, (first..first + ok).collect::<Vec<_>>());
        let failed = (threads * each) as u64 - u64::from(ok);
        assert_eq!(undone.load(std::sync::atomic::Ordering::Relaxed), failed);
        let (transactions, jobs) = c.write_batches();
        assert_eq!(jobs, u64::from(ok));
        assert!(
            transactions <= jobs,
            "{transactions} transactions for {jobs} jobs"
        );
    }

    /// Writes queued while the index is busy all commit in the one transaction of the
    /// first writer to get it.
    #[test]
    fn queued_writes_commit_in_one_transaction() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = core(dir.path());
        let inbox = MailboxId(c.mailbox("INBOX").expect("INBOX").id.0);
        let busy = c.conn().expect("conn");
        let n = 8;
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || c.write(move |_, tx, _| take_uid(tx, inbox, i == 5)))
            })
            .collect();
        while c.batch.queue.lock().map(|q| q.1.len()).unwrap_or(0) < n {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(busy);
        let results: Vec<Result<u32, StoreError>> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
        assert!(matches!(results[5], Err(StoreError::Invalid(_))));
        let mut uids: Vec<u32> = results.into_iter().filter_map(Result::ok).collect();
        uids.sort_unstable();
        uids.dedup();
        assert_eq!(uids.len(), n - 1);
        assert_eq!(c.write_batches(), (1, n as u64 - 1));
    }
}
