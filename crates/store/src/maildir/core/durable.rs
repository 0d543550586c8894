//! Group commit of directory flushes: when several sessions of an account add or remove
//! messages in one mailbox at the same time, one `fsync` of the directory makes all their
//! renames and unlinks durable, and each caller is answered once a flush that started
//! after its own change has finished.
//!
//! How a write becomes durable (the order matters):
//! - APPEND: the message file is written to `tmp/` and flushed; under the index lock it
//!   is renamed into `cur/` under a name that carries its UID, flags and keyword letters,
//!   and the index row commits without a flush of its own (a crash of the process keeps
//!   it: it is in the WAL file); outside the lock `cur/` is flushed here. After a power
//!   failure that lost the index commit, the next sync adopts the file under the UID in
//!   its name (the mailbox's UID high-water mark is above it), so the acknowledged
//!   message is there with its UID, flags, lettered keywords and internal date.
//! - COPY: hard links in the target's `cur/`, the same way.
//! - EXPUNGE: the UID high-water mark file is at or above UIDNEXT first, then the files
//!   are unlinked, the tombstones commit without a flush, and the caller is answered at
//!   once; `cur/` is flushed within [`FLUSH_DELAY`] by the next flush of that directory
//!   (an APPEND's usually, else a deferred one scheduled here). A power failure in that
//!   window can bring an expunged message back (nothing acknowledged is lost: the file
//!   reappears; if the index kept its tombstone, the next sync unlinks it again, else it
//!   is shown under its old UID), the trade Dovecot makes with every expunge. A MOVE's
//!   source side is flushed before the answer (the file is in another directory now).
//!
//! What does not live here: the index transactions themselves (`append.rs`,
//! `expunge.rs`).

use super::files::sync_dir;
use super::Core;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The flush state of one directory.
#[derive(Default)]
pub(super) struct DirGate {
    state: Mutex<GateState>,
    done: Condvar,
}

#[derive(Default)]
struct GateState {
    /// Changes announced so far (each caller takes the next number).
    announced: u64,
    /// Every change up to this number is durable.
    flushed: u64,
    /// A flush is running.
    running: bool,
    /// A deferred flush ([`DirGate::flush_soon`]) is scheduled and has not started.
    deferred: bool,
}

/// How long a deferred flush waits for another flush of the directory (an APPEND's,
/// say) to cover the changes it was scheduled for.
pub(super) const FLUSH_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

impl DirGate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once a flush of `dir` that started after the caller's change (made before
    /// this call) has succeeded. The caller that finds no flush running does it for
    /// everyone waiting; a failed flush is retried by the next caller, and its error
    /// returned to the one that ran it.
    pub(super) fn flush(&self, dir: &Path) -> io::Result<()> {
        let mut g = self.lock();
        g.announced += 1;
        let mine = g.announced;
        self.flush_upto(g, dir, mine)
    }

    /// Flushes every change announced so far, unless a flush already covered them.
    fn flush_pending(&self, dir: &Path) -> io::Result<()> {
        let mut g = self.lock();
        g.deferred = false;
        let upto = g.announced;
        self.flush_upto(g, dir, upto)
    }

    /// Announces a change made in `dir` and returns at once; the change becomes durable
    /// with the next flush of `dir`, which starts within [`FLUSH_DELAY`] (a deferred flush
    /// is scheduled on the runtime unless one is already waiting). Without a runtime, the
    /// flush runs now.
    pub(super) fn flush_soon(self: &Arc<Self>, dir: &Path) -> io::Result<()> {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return self.flush(dir);
        };
        let mut g = self.lock();
        g.announced += 1;
        if g.deferred {
            return Ok(());
        }
        g.deferred = true;
        drop(g);
        let gate = Arc::clone(self);
        let dir = dir.to_path_buf();
        rt.spawn(async move {
            tokio::time::sleep(FLUSH_DELAY).await;
            let shown = dir.clone();
            let r = tokio::task::spawn_blocking(move || gate.flush_pending(&dir)).await;
            match r {
                Ok(Err(e)) => tracing::warn!("deferred flush of {} failed: {e}", shown.display()),
                Err(e) => tracing::warn!("deferred flush of {} failed: {e}", shown.display()),
                Ok(Ok(())) => {}
            }
        });
        Ok(())
    }

    fn flush_upto<'a>(
        &'a self,
        mut g: MutexGuard<'a, GateState>,
        dir: &Path,
        mine: u64,
    ) -> io::Result<()> {
        loop {
            if g.flushed >= mine {
                return Ok(());
            }
            if g.running {
                g = self.done.wait(g).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            g.running = true;
            let upto = g.announced;
            drop(g);
            let r = sync_dir(dir);
            g = self.lock();
            g.running = false;
            if r.is_ok() {
                g.flushed = g.flushed.max(upto);
            }
            self.done.notify_all();
            r?;
        }
    }
}

/// The gates of an account's directories.
#[derive(Default)]
pub(super) struct DirGates(Mutex<HashMap<PathBuf, Arc<DirGate>>>);

impl Core {
    fn gate(&self, dir: &Path) -> Arc<DirGate> {
        let mut map = self.gates.0.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(dir.to_path_buf()).or_default())
    }

    /// Makes the renames and unlinks already done in `dir` durable, sharing one flush
    /// with concurrent callers (blocking).
    pub(super) fn flush_dir(&self, dir: &Path) -> io::Result<()> {
        self.gate(dir).flush(dir)
    }

    /// Makes the unlinks already done in `dir` durable within [`FLUSH_DELAY`], without
    /// waiting (see [`DirGate::flush_soon`]).
    pub(super) fn flush_dir_soon(&self, dir: &Path) -> io::Result<()> {
        self.gate(dir).flush_soon(dir)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn concurrent_flushes_all_return_and_share() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(DirGate::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let gate = Arc::clone(&gate);
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || gate.flush(&path))
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        let g = gate.lock();
        assert_eq!(g.announced, 8);
        assert_eq!(g.flushed, 8);
        assert!(!g.running);
    }

    #[test]
    fn deferred_flush_runs_later_or_rides_on_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .unwrap();
        let gate = Arc::new(DirGate::default());
        rt.block_on(async {
            gate.flush_soon(dir.path()).unwrap();
            gate.flush_soon(dir.path()).unwrap();
            {
                let g = gate.lock();
                assert_eq!((g.announced, g.flushed, g.deferred), (2, 0, true));
            }
            // An immediate flush covers both deferred changes.
            gate.flush(dir.path()).unwrap();
            assert_eq!(gate.lock().flushed, 3);
            gate.flush_soon(dir.path()).unwrap();
            assert_eq!(gate.lock().flushed, 3);
            // Nothing else flushes: the deferred flush does (within FLUSH_DELAY; the wait
            // is generous for a loaded machine).
            for _ in 0..200 {
                if gate.lock().flushed == 4 {
                    break;
                }
                tokio::time::sleep(FLUSH_DELAY / 2).await;
            }
            let g = gate.lock();
            assert_eq!((g.announced, g.flushed, g.deferred), (4, 4, false));
        });
        // Without a runtime the flush happens at once.
        gate.flush_soon(dir.path()).unwrap();
        assert_eq!(gate.lock().flushed, 5);
    }

    #[test]
    fn failed_flush_is_reported_and_retried() {
        let gate = DirGate::default();
        let missing = Path::new("/nonexistent/mailroom-dir-gate");
        assert!(gate.flush(missing).is_err());
        let dir = tempfile::tempdir().unwrap();
        gate.flush(dir.path()).unwrap();
        assert_eq!(gate.lock().flushed, 2);
    }
}
