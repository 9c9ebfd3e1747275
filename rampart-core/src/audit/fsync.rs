//! Grouped fsync off the writer's path.
//!
//! Owns one thread per [`crate::audit::Chain`] that fsyncs, in order, the
//! files and directories the writer hands it, so `append` never waits for the
//! disk; a failure is handed back to the writer, which reports it from its
//! next call. It never writes data and never decides when to sync (the
//! writer does, at most once per sync interval).

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

enum Job {
    File(Arc<File>, PathBuf),
    Dir(PathBuf),
    /// Answered once every job sent before it is done.
    Barrier(Sender<()>),
}

#[derive(Default)]
struct Shared {
    /// Jobs sent and not yet done.
    pending: AtomicUsize,
    /// The first failure not yet handed back.
    error: Mutex<Option<io::Error>>,
}

pub(crate) struct Fsyncer {
    jobs: Option<Sender<Job>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Fsyncer {
    pub(crate) fn start() -> io::Result<Fsyncer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let shared = Arc::new(Shared::default());
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("rampart-audit-fsync".into())
            .spawn(move || {
                for job in rx {
                    let (result, reply) = match job {
                        Job::File(file, path) => (
                            file.sync_data()
                                .map_err(|e| (e, format!("fsync {}", path.display()))),
                            None,
                        ),
                        Job::Dir(path) => (
                            File::open(&path)
                                .and_then(|d| d.sync_all())
                                .map_err(|e| (e, format!("fsync directory {}", path.display()))),
                            None,
                        ),
                        Job::Barrier(done) => (Ok(()), Some(done)),
                    };
                    if let Err((e, what)) = result {
                        let mut slot = worker.error.lock().unwrap_or_else(|p| p.into_inner());
                        slot.get_or_insert_with(|| {
                            io::Error::new(e.kind(), format!("{what}: {e}"))
                        });
                    }
                    // Done before answering a barrier, so the waiter sees
                    // nothing pending.
                    worker.pending.fetch_sub(1, Ordering::AcqRel);
                    if let Some(done) = reply {
                        let _ = done.send(());
                    }
                }
            })?;
        Ok(Fsyncer {
            jobs: Some(tx),
            shared,
            thread: Some(thread),
        })
    }

    fn send(&self, job: Job) {
        self.shared.pending.fetch_add(1, Ordering::AcqRel);
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        if !matches!(sent, Some(Ok(()))) {
            self.shared.pending.fetch_sub(1, Ordering::AcqRel);
            let mut slot = self.shared.error.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| io::Error::other("the audit fsync thread is gone"));
        }
    }

    /// Queues an fsync of `file`'s data.
    pub(crate) fn file(&self, file: Arc<File>, path: PathBuf) {
        self.send(Job::File(file, path));
    }

    /// Queues an fsync of a directory (new entries in it).
    pub(crate) fn dir(&self, path: PathBuf) {
        self.send(Job::Dir(path));
    }

    /// Whether fsyncs are queued or under way.
    pub(crate) fn busy(&self) -> bool {
        self.shared.pending.load(Ordering::Acquire) > 0
    }

    /// The first fsync failure since the last call, if any.
    pub(crate) fn take_error(&self) -> Option<io::Error> {
        self.shared
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Blocks until every queued fsync is done; reports a failure.
    pub(crate) fn wait(&self) -> io::Result<()> {
        let (tx, rx) = mpsc::channel();
        self.send(Job::Barrier(tx));
        if rx.recv().is_err() {
            return Err(io::Error::other("the audit fsync thread is gone"));
        }
        match self.take_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Fsyncer {
    fn drop(&mut self) {
        self.jobs = None; // the worker finishes the queue, then stops
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
