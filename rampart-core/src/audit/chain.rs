//! The writer: appends records to the hash chain of an audit directory.
//!
//! Owns appending: sealing records (prev_hash, hash), choosing the file (one
//! a UTC day, size rotation with a continuation header), the directory lock
//! that lets several writers (several processes) share one chain, and
//! grouped fsync (done by a background thread, see `fsync.rs`: at most
//! one fsync per sync interval, and `append` never waits for the disk). Under the lock a writer checks whether anyone else appended
//! since its last batch and, if so, re-reads the chain's tail, so the chain
//! stays one valid sequence. It never rewrites, truncates or deletes
//! anything already in a file; a file that ends in a torn line (another
//! writer killed mid-write) is left as it is and the chain continues in the
//! next file.
//!
//! A write of its own that fails (disk full, I/O error) is cut back to
//! where it began, so it never leaves half a record; the records of a batch
//! that are not in the trail then have an empty `hash`. A small reserve
//! file ([`RESERVE_FILE`]) is kept in the directory so that, when the disk
//! is full, [`Chain::note_loss`] can still free room for one record saying
//! how many records are missing.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};

use super::files::{
    annotate, chain_file_name, create_new_chain_file, create_private_dir, line_number_at,
    managed_files, open_chain_file_for_append, parse_chain_file_name, read_tail, DirLock, Header,
};
use super::fsync::Fsyncer;
use super::record::{append_sealed_line, Record};

/// The space kept free for the record of a loss (see [`Chain::note_loss`]).
pub const RESERVE_FILE: &str = ".audit.reserve";
/// A `lost` record is well under 1 KiB; two pages leave room to spare.
const RESERVE_BYTES: u64 = 8 * 1024;

/// Size at which a file is rotated: 100 MiB, as Go Rampart.
pub const DEFAULT_ROTATE_BYTES: u64 = 100 * 1024 * 1024;

/// Longest time written records wait for their fsync when appends keep coming.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(50);

/// How a [`Chain`] writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainOptions {
    /// A file that already holds a record is rotated before a record would
    /// take it past this many bytes.
    pub rotate_bytes: u64,
    /// Written records are handed to the background fsync when the last
    /// hand-over is at least this old: by `append`, and by
    /// [`Chain::sync_if_due`], which the owner calls on a timer so a record
    /// written just before a quiet period is synced too.
    pub sync_interval: Duration,
}

impl Default for ChainOptions {
    fn default() -> Self {
        ChainOptions {
            rotate_bytes: DEFAULT_ROTATE_BYTES,
            sync_interval: DEFAULT_SYNC_INTERVAL,
        }
    }
}

/// The file this writer appends to, and what it knows of it.
struct Current {
    name: String,
    date: String,
    seq: u32,
    path: PathBuf,
    /// The name the next size rotation would create; if it exists, another
    /// writer rotated.
    next_path: PathBuf,
    file: Arc<File>,
    dev: u64,
    ino: u64,
    /// Size after this writer's last write: if the file is bigger, another
    /// writer appended.
    size: u64,
    /// The file holds at least one record (a header alone does not count).
    has_record: bool,
}

/// Where the chain continues, found by reading the directory under the lock.
struct Plan {
    tail_hash: String,
    name: String,
    create: bool,
    header: Option<Header>,
    has_record: bool,
}

/// Appends records to the hash chain of one audit directory.
///
/// Several `Chain`s, in one process or many, may write the same directory:
/// each batch is appended under an exclusive `flock` on the directory's lock
/// file, after re-reading the chain's tail if another writer moved it.
pub struct Chain {
    dir: PathBuf,
    options: ChainOptions,
    lock: DirLock,
    current: Option<Current>,
    /// The file the next append will write, while no file is open.
    planned_path: PathBuf,
    last_hash: String,
    buf: Vec<u8>,
    /// The current file has writes not yet handed to the fsync thread.
    unsynced: bool,
    /// A file was created and the directory not yet handed to the fsync thread.
    dir_unsynced: bool,
    /// When writes were last handed to the fsync thread.
    last_sync: Instant,
    fsyncer: Fsyncer,
    /// The anchor of the newest record written, while it is not yet in
    /// `audit.anchor` (see [`Chain::flush_anchor`]).
    anchor_pending: Option<super::anchor::Anchor>,
    /// When `audit.anchor` was last written.
    last_anchor: Instant,
    /// This writer's mark (`super::writers`), while it writes.
    _mark: Option<super::writers::Mark>,
    /// The earlier writers killed with the trail open whose gap this one
    /// noted when it opened.
    cut_off: Vec<super::writers::Writer>,
}

impl Chain {
    /// Opens the chain in `dir` (created with mode 0700) with default options.
    pub fn open(dir: &Path) -> io::Result<Chain> {
        Chain::open_with(dir, ChainOptions::default())
    }

    /// Opens the chain in `dir` (created with mode 0700).
    pub fn open_with(dir: &Path, options: ChainOptions) -> io::Result<Chain> {
        if options.rotate_bytes == 0 {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                "audit rotate_bytes must be positive",
            ));
        }
        create_private_dir(dir)?;
        let lock = DirLock::open(dir)?;
        keep_reserve(dir);
        let plan = {
            let _guard = lock.lock()?;
            plan(dir, &today())?
        };
        // The first batch writes its anchor at once.
        let first_anchor = Instant::now()
            .checked_sub(options.sync_interval)
            .unwrap_or_else(Instant::now);
        // Marked as written before anything else: a writer that is killed
        // from now on leaves its mark behind.
        let mark = super::writers::Mark::take(dir).ok();
        let mut chain = Chain {
            dir: dir.to_path_buf(),
            options,
            lock,
            current: None,
            planned_path: dir.join(&plan.name),
            last_hash: plan.tail_hash,
            buf: Vec::with_capacity(256 * 1024),
            unsynced: false,
            dir_unsynced: false,
            last_sync: Instant::now(),
            fsyncer: Fsyncer::start()?,
            anchor_pending: None,
            last_anchor: first_anchor,
            _mark: mark,
            cut_off: Vec::new(),
        };
        chain.note_cut_off_runs()?;
        Ok(chain)
    }

    /// Note in the trail each earlier writer that was killed with it open
    /// (`super::writers::dead`), once: the writer that removes its mark
    /// writes the record.
    fn note_cut_off_runs(&mut self) -> io::Result<()> {
        for dead in super::writers::dead(&self.dir) {
            if let Some(claim) = super::writers::claim(&dead) {
                self.append(&mut [Record::cut_off(&dead.writer)])?;
                claim.noted();
                self.cut_off.push(dead.writer);
            }
        }
        Ok(())
    }

    /// Appends `batch` to the chain in order, under one acquisition of the
    /// directory lock. Fills each record's defaults (schema version, id,
    /// timestamp, host) and sets its `prev_hash` and `hash`. Every record is
    /// written to its file before this returns; fsync follows in the
    /// background within [`ChainOptions::sync_interval`] plus the time the
    /// disk takes (see [`Chain::sync_if_due`], [`Chain::sync`]). A failed
    /// background fsync is reported by the next `append` or `sync`.
    ///
    /// On error some of the batch may already be written (the trail stays a
    /// valid chain: the next append re-reads its tail).
    ///
    /// On an error, the records of `batch` that are not in the trail are
    /// those left with an empty `hash` (a write that failed was cut back to
    /// where it began).
    pub fn append(&mut self, batch: &mut [Record]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        for record in batch.iter_mut() {
            record.hash.clear();
            record
                .apply_defaults()
                .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
        }
        let mut written = 0;
        let result = {
            let _guard = self.lock.lock()?;
            self.append_locked(batch, &mut written)
        };
        if let Err(e) = result {
            for r in &mut batch[written..] {
                r.hash.clear();
            }
            self.forget_current();
            return Err(e);
        }
        if let Some(e) = self.fsyncer.take_error() {
            return Err(e);
        }
        self.sync_if_due()?;
        Ok(())
    }

    /// `written`: how many records of `batch` are in a file so far.
    fn append_locked(&mut self, batch: &mut [Record], written: &mut usize) -> io::Result<()> {
        let today = today();
        if !self.current_is_tail(&today) {
            let plan = plan(&self.dir, &today)?;
            self.switch_to(plan)?;
        }
        self.buf.clear();
        let mut pending_from = 0;
        let mut pending_first = 0;
        for (i, record) in batch.iter_mut().enumerate() {
            record.prev_hash.clone_from(&self.last_hash);
            let start = self.buf.len();
            let hash = append_sealed_line(record, &mut self.buf);
            let line_len = (self.buf.len() - start) as u64;
            let current = self.current.as_mut().expect("a file is open");
            let pending = (start - pending_from) as u64;
            let file_has_record = current.has_record || pending > 0;
            if file_has_record && current.size + pending + line_len > self.options.rotate_bytes {
                write_to(current, &self.buf[pending_from..start])?;
                *written = i;
                self.unsynced = true;
                pending_from = start;
                pending_first = i;
                self.rotate()?;
            }
            record.hash = hash;
            self.last_hash.clone_from(&record.hash);
        }
        let current = self.current.as_mut().expect("a file is open");
        if let Err(e) = write_to(current, &self.buf[pending_from..]) {
            // A disk too full for the whole batch may still take part of
            // it: whole records, one at a time, until one does not fit.
            self.unsynced = true;
            *written = pending_first;
            for line in self.buf[pending_from..].split_inclusive(|&b| b == b'\n') {
                if write_to(current, line).is_err() {
                    break;
                }
                *written += 1;
            }
            return Err(e);
        }
        *written = batch.len();
        self.unsynced = true;
        // Still under the lock: the anchor names the newest record. It is
        // rewritten at most once a sync interval while appends keep coming
        // (a rename per batch cost more than the batch); `sync_if_due`,
        // `sync` and drop write the one left pending.
        self.anchor_pending = Some(super::anchor::Anchor {
            file: current.name.clone(),
            size: current.size,
            last_hash: self.last_hash.clone(),
        });
        if self.last_anchor.elapsed() >= self.options.sync_interval {
            self.write_anchor_locked()?;
        }
        Ok(())
    }

    /// Write the pending anchor; the caller holds the directory lock and
    /// this writer's file is the chain's tail.
    fn write_anchor_locked(&mut self) -> io::Result<()> {
        if let Some(anchor) = self.anchor_pending.take() {
            self.last_anchor = Instant::now();
            super::anchor::write(&self.dir, &anchor)?;
        }
        Ok(())
    }

    /// Write the anchor of the newest record this writer appended, if it
    /// is not in `audit.anchor` yet and no other writer appended since (its
    /// own anchor is then the newer one).
    pub fn flush_anchor(&mut self) -> io::Result<()> {
        if self.anchor_pending.is_none() {
            return Ok(());
        }
        let _guard = self.lock.lock()?;
        if self.current_is_tail(&today()) {
            self.write_anchor_locked()
        } else {
            self.anchor_pending = None;
            Ok(())
        }
    }

    /// Whether the open file is still the chain's tail as this writer left
    /// it: same file, same size, same day, not rotated by someone else.
    fn current_is_tail(&self, today: &str) -> bool {
        let Some(current) = &self.current else {
            return false;
        };
        if current.date.as_str() < today {
            return false;
        }
        let unchanged = match fs::metadata(&current.path) {
            Ok(meta) => {
                meta.dev() == current.dev && meta.ino() == current.ino && meta.len() == current.size
            }
            Err(_) => false,
        };
        unchanged
            && matches!(fs::symlink_metadata(&current.next_path), Err(e) if e.kind() == ErrorKind::NotFound)
    }

    /// Size rotation to the next `.pN` file, opened with a header that
    /// continues from the last record written.
    fn rotate(&mut self) -> io::Result<()> {
        let current = self.current.as_ref().expect("a file is open");
        let plan = Plan {
            tail_hash: self.last_hash.clone(),
            name: chain_file_name(&current.date, current.seq + 1),
            create: true,
            header: Some(Header {
                chain_continue: self.last_hash.clone(),
                prev_file: current.name.clone(),
            }),
            has_record: false,
        };
        self.switch_to(plan)
    }

    /// Makes `plan`'s file the current one (the one it replaces goes to the
    /// fsync thread).
    fn switch_to(&mut self, plan: Plan) -> io::Result<()> {
        self.retire_current();
        let path = self.dir.join(&plan.name);
        let file = if plan.create {
            let file = create_new_chain_file(&path)?;
            self.dir_unsynced = true;
            file
        } else {
            open_chain_file_for_append(&path)?
        };
        let meta = file.metadata().map_err(|e| annotate(e, "stat", &path))?;
        let mut size = meta.len();
        if let Some(header) = &plan.header {
            let line = header.to_line();
            (&file)
                .write_all(&line)
                .map_err(|e| annotate(e, "write header to", &path))?;
            size += line.len() as u64;
            self.unsynced = true;
        }
        let (date, seq) = parse_chain_file_name(&plan.name).expect("the writer names its files");
        let (date, seq) = (date.to_string(), seq);
        self.current = Some(Current {
            next_path: self.dir.join(chain_file_name(&date, seq + 1)),
            name: plan.name,
            date,
            seq,
            path: path.clone(),
            file: Arc::new(file),
            dev: meta.dev(),
            ino: meta.ino(),
            size,
            has_record: plan.has_record,
        });
        self.planned_path = path;
        self.last_hash = plan.tail_hash;
        Ok(())
    }

    /// Hands the current file's unsynced writes to the fsync thread and
    /// closes it (the fsync thread keeps it open until synced).
    fn retire_current(&mut self) {
        if let Some(current) = self.current.take() {
            if self.unsynced {
                self.fsyncer.file(current.file, current.path);
                self.unsynced = false;
            }
        }
    }

    /// After an error: have what was written synced and forget the file, so
    /// the next append re-reads the chain's tail from disk.
    fn forget_current(&mut self) {
        self.retire_current();
    }

    /// Hands everything written so far to the fsync thread.
    fn hand_over(&mut self) {
        if self.unsynced {
            if let Some(current) = &self.current {
                self.fsyncer
                    .file(Arc::clone(&current.file), current.path.clone());
            }
            self.unsynced = false;
        }
        if self.dir_unsynced {
            self.fsyncer.dir(self.dir.clone());
            self.dir_unsynced = false;
        }
        self.last_sync = Instant::now();
    }

    /// Append `record`, the note of records that are not in the trail,
    /// after an append failed: the reserve is given up first, so that a
    /// full disk has room for it. Synced before it returns.
    pub fn note_loss(&mut self, record: Record) -> io::Result<()> {
        let _ = fs::remove_file(self.dir.join(RESERVE_FILE));
        self.forget_current();
        self.append(&mut [record])?;
        self.sync()
    }

    /// fsyncs everything this writer has written (and new directory
    /// entries) and returns when it is on disk.
    pub fn sync(&mut self) -> io::Result<()> {
        let anchored = self.flush_anchor();
        self.hand_over();
        self.fsyncer.wait()?;
        anchored
    }

    /// Starts a background fsync of what was written when something is
    /// unsynced, the last one was handed over at least
    /// [`ChainOptions::sync_interval`] ago and none is still under way.
    /// Returns whether it started one. Never waits for the disk.
    pub fn sync_if_due(&mut self) -> io::Result<bool> {
        if let Some(e) = self.fsyncer.take_error() {
            return Err(e);
        }
        if self.anchor_pending.is_some() && self.last_anchor.elapsed() >= self.options.sync_interval
        {
            self.flush_anchor()?;
        }
        if (self.unsynced || self.dir_unsynced)
            && self.last_sync.elapsed() >= self.options.sync_interval
            && !self.fsyncer.busy()
        {
            self.hand_over();
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether records are written but not yet fsynced.
    pub fn has_unsynced(&self) -> bool {
        self.unsynced || self.dir_unsynced || self.fsyncer.busy() || self.anchor_pending.is_some()
    }

    /// The file the chain is written to (the one the next append targets
    /// when nothing has been appended yet).
    pub fn path(&self) -> PathBuf {
        match &self.current {
            Some(current) => current.path.clone(),
            None => self.planned_path.clone(),
        }
    }

    /// The earlier writers of this trail that were killed with it open,
    /// whose gap this writer noted in it when it opened.
    pub fn cut_off_runs(&self) -> &[super::writers::Writer] {
        &self.cut_off
    }

    /// The audit directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hash of the last record this writer knows of (`""` for an empty chain).
    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }

    /// The options this chain writes with.
    pub fn options(&self) -> &ChainOptions {
        &self.options
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        if self.has_unsynced() {
            let _ = self.sync();
        }
    }
}

/// Append `bytes`; a write that fails is cut back to where it began.
fn write_to(current: &mut Current, bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    if let Err(e) = (&*current.file).write_all(bytes) {
        // Cutting frees what the failed write took: it works on a full disk.
        let _ = current.file.set_len(current.size);
        return Err(annotate(e, "write", &current.path));
    }
    current.size += bytes.len() as u64;
    current.has_record = true;
    Ok(())
}

/// Today's UTC date, `YYYY-MM-DD`.
fn today() -> String {
    let d = Utc::now().date_naive();
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// Reads the directory (under the lock): the chain's last hash and the file
/// the next record goes to.
fn plan(dir: &Path, today: &str) -> io::Result<Plan> {
    let names = managed_files(dir).map_err(|e| annotate(e, "list", dir))?;
    let Some(last) = names.last() else {
        return Ok(Plan {
            tail_hash: String::new(),
            name: chain_file_name(today, 0),
            create: true,
            header: None,
            has_record: false,
        });
    };

    // Walk back to the newest file that holds a complete line.
    let mut tail_hash = String::new();
    let mut last_state = None; // (size, torn, ends with a record)
    for name in names.iter().rev() {
        let path = dir.join(name);
        let file = File::open(&path).map_err(|e| annotate(e, "open", &path))?;
        let tail = read_tail(&file).map_err(|e| annotate(e, "read", &path))?;
        let link = match &tail.last_line {
            Some((line, offset)) => Some(chain_link(&file, &path, line, *offset)?),
            None => None,
        };
        if last_state.is_none() {
            last_state = Some((tail.size, tail.torn, matches!(link, Some((_, true)))));
        }
        if let Some((hash, _)) = link {
            tail_hash = hash;
            break;
        }
    }
    let (size, torn, has_record) = last_state.expect("at least one file");
    let header_after = |prev_file: &str| {
        (!tail_hash.is_empty()).then(|| Header {
            chain_continue: tail_hash.clone(),
            prev_file: prev_file.to_string(),
        })
    };

    let (last_date, last_seq) = parse_chain_file_name(last).expect("managed file names parse");
    let plan = if last_date >= today && !torn {
        // Keep writing today's (or a later-dated) file.
        let header = if size == 0 && names.len() >= 2 {
            header_after(&names[names.len() - 2])
        } else {
            None
        };
        Plan {
            name: last.clone(),
            create: false,
            header,
            has_record,
            tail_hash: String::new(),
        }
    } else if last_date >= today {
        // The file ends in a torn write: leave it, continue in the next one.
        Plan {
            name: chain_file_name(last_date, last_seq + 1),
            create: true,
            header: header_after(last),
            has_record: false,
            tail_hash: String::new(),
        }
    } else {
        // A new UTC day.
        Plan {
            name: chain_file_name(today, 0),
            create: true,
            header: header_after(last),
            has_record: false,
            tail_hash: String::new(),
        }
    };
    Ok(Plan { tail_hash, ..plan })
}

/// The hash a file's last line hands on: a record's `hash` (and `true`), or
/// a header's `chain_continue`. Anything else stops the writer: it will not
/// continue a chain it cannot read.
fn chain_link(file: &File, path: &Path, line: &[u8], offset: u64) -> io::Result<(String, bool)> {
    let line = line.trim_ascii();
    let bad = |what: String| {
        let number = line_number_at(file, offset).unwrap_or(0);
        io::Error::new(
            ErrorKind::InvalidData,
            format!(
                "{}:{number}: {what}; the audit chain cannot continue from it",
                path.display()
            ),
        )
    };
    match serde_json::from_slice::<Record>(line) {
        Ok(record) if !record.id.is_empty() => {
            if record.hash.is_empty() {
                Err(bad(format!("record {} has no hash", record.id)))
            } else {
                Ok((record.hash, true))
            }
        }
        Ok(_) => match Header::parse(line) {
            Some(header) => Ok((header.chain_continue, false)),
            None => Err(bad(
                "last line is neither an audit record nor a chain header".into(),
            )),
        },
        Err(e) => Err(bad(format!("last line is not valid JSON ({e})"))),
    }
}

/// Keep [`RESERVE_FILE`] allocated (best effort: a disk already full, or a
/// file system without `fallocate`, goes without).
fn keep_reserve(dir: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(RESERVE_FILE);
    let Ok(file) = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
    else {
        return;
    };
    if file
        .metadata()
        .is_ok_and(|m| m.blocks() * 512 >= RESERVE_BYTES)
    {
        return;
    }
    // SAFETY: fallocate on a descriptor we own.
    unsafe {
        libc::fallocate(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            0,
            0,
            RESERVE_BYTES as libc::off_t,
        )
    };
}
