//! Reading a trail in one pass: every line handed to a consumer, the chain
//! checked on the way, the work shared out to threads.
//!
//! Owns the walk over a trail (paths into chains of files, files into
//! blocks of whole lines) and the chain's rules as they apply line by line:
//! each record's hash recomputed from its stored bytes, each `prev_hash`
//! the hash of the record before it, a continuation header only as the
//! first line of its file, naming the file before it and the hash the chain
//! ended at. [`super::verify()`] and `rampart init --from-audit` are both a
//! scan; they differ in the [`LineSink`] that reads each line. It owns the
//! verdict's types too ([`VerifyReport`], [`VerifyFailure`]): a scan ends
//! in one of them.
//!
//! Blocks of lines go round-robin to worker threads, each with its own
//! sink; a worker checks hashes and the links inside its block, and the
//! links between blocks are checked in chain order afterwards, so the
//! failure reported is always the first one in the trail, whatever the
//! threads. A torn last line (a write that did not finish) is reported,
//! never read. It never modifies a file and never keeps more than a few
//! blocks in memory.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use super::reader::{chain_groups, Location};
use super::record::hash_of_stored_line;

/// What a successful verification saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records whose hash and link checked out.
    pub records: u64,
    /// Files read.
    pub files: usize,
    /// Independent chains: one per directory argument, one per run of
    /// consecutive file arguments.
    pub chains: usize,
    /// Hash of the last record of the last chain (`""` if it has none).
    pub last_hash: String,
    /// Torn last lines (writes that did not finish), tolerated.
    pub torn: Vec<Location>,
    /// Calls the trail says it does not hold: the sum of its `lost`
    /// records (see [`Record::lost`]).
    pub lost: u64,
    /// What its records of runs cut off say ([`Record::cut_off`]), and the
    /// marks of writers that died and whose gap no record notes yet
    /// (`crate::audit::writers`).
    pub cut_off: Vec<String>,
}

/// Where and why verification failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyFailure {
    pub file: PathBuf,
    /// 1-based line; 0 when the file itself could not be read.
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
        }
    }
}

impl std::error::Error for VerifyFailure {}

/// What a line is to the chain, as its [`LineSink`] read it.
#[derive(Debug)]
pub enum Link<'l> {
    /// A record: it has an `id` and is hashed into the chain.
    Record {
        id: Cow<'l, str>,
        prev_hash: Cow<'l, str>,
        hash: Cow<'l, str>,
    },
    /// A continuation header (`{"chain_continue":…,"prev_file":…}`).
    Header {
        prev_file: Cow<'l, str>,
        chain_continue: Cow<'l, str>,
    },
    /// A JSON object the sink used that is neither: no `id`, not a header.
    /// A failure when verifying (no line Rampart writes looks like this).
    Loose,
}

/// Reads the lines of a trail. One sink per worker thread; each sees a
/// share of the lines, in no particular order across sinks.
pub trait LineSink: Send {
    /// One complete, non-blank line of valid UTF-8, surrounding whitespace
    /// trimmed. `Err` says why it is not a trail line (a corrupt line).
    fn line<'l>(&mut self, line: &'l str) -> Result<Link<'l>, String>;
}

/// Worker threads worth using on this machine (at most four: beyond that
/// the one reading thread is the limit).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().min(4))
        .unwrap_or(1)
}

/// A line that is not a trail line, when not verifying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub at: Location,
    pub why: String,
}

/// What a scan saw.
#[derive(Clone, Debug, Default)]
pub struct ScanReport {
    /// Records, hashes and links checked when verifying.
    pub chain: VerifyReport,
    /// The first [`MAX_LISTED`] corrupt lines, in trail order (only when
    /// not verifying: verifying stops at the first).
    pub unreadable: Vec<Unreadable>,
    /// Every corrupt line.
    pub unreadable_count: u64,
}

/// Corrupt lines listed one by one in a [`ScanReport`].
pub const MAX_LISTED: usize = 20;

/// Bytes of lines per block handed to a worker.
const BLOCK_BYTES: usize = 1 << 20;

/// Bytes asked of each `read`.
const READ_BYTES: usize = 256 << 10;

/// A run of whole lines of one file.
struct Block {
    group: usize,
    file: usize,
    /// The 1-based number of the block's first line.
    first_line: u64,
    data: Vec<u8>,
    /// The first block of its file (a header may only be here).
    file_start: bool,
    /// The last block of its file.
    file_end: bool,
    /// The file's last line had no newline: its number (not in `data`).
    torn: Option<u64>,
    /// The file could not be read from here on: why.
    io_error: Option<String>,
}

/// What a worker found in a block, for the in-order checks.
#[derive(Default)]
struct Checked {
    records: u64,
    header: Option<(u64, String, String)>,
    /// The first record: line, id, prev_hash.
    first: Option<(u64, String, String)>,
    last_hash: Option<String>,
    failure: Option<(u64, String)>,
    unreadable: Vec<(u64, String)>,
    unreadable_count: u64,
}

/// Scans the trails in `paths` (files and directories, as
/// [`crate::audit::Reader::open`] orders them), one worker thread per sink
/// in `sinks` (at least one). With `verify`, every hash and link is
/// checked and the first failure ends the scan; without, corrupt lines are
/// reported and skipped. Returns the sinks (to be combined by the caller)
/// and what was seen, or the first place the chain does not hold (or the
/// trail cannot be read: line 0).
pub fn scan<S: LineSink>(
    paths: &[PathBuf],
    verify: bool,
    sinks: Vec<S>,
) -> Result<(Vec<S>, ScanReport), VerifyFailure> {
    scan_with(paths, verify, sinks, None)
}

/// [`scan`], adding every byte it reads to `progress` (for a progress bar:
/// compare with the files' total size).
pub fn scan_with<S: LineSink>(
    paths: &[PathBuf],
    verify: bool,
    sinks: Vec<S>,
    progress: Option<&AtomicU64>,
) -> Result<(Vec<S>, ScanReport), VerifyFailure> {
    assert!(!sinks.is_empty(), "a scan needs at least one sink");
    let groups = chain_groups(paths).map_err(|e| VerifyFailure {
        file: paths.first().cloned().unwrap_or_default(),
        line: 0,
        reason: e.to_string(),
    })?;
    let files: Vec<(usize, &PathBuf)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, fs)| fs.iter().map(move |f| (g, f)))
        .collect();
    let threads = sinks.len();
    let stop = AtomicBool::new(false);
    let mut report = ScanReport::default();
    report.chain.chains = groups.len();

    let outcome = std::thread::scope(|s| {
        let mut to_workers = Vec::new();
        let mut from_workers = Vec::new();
        let mut workers = Vec::new();
        for mut sink in sinks {
            let (tx, rx) = mpsc::sync_channel::<Block>(2);
            let (rtx, rrx) = mpsc::channel::<Checked>();
            to_workers.push(tx);
            from_workers.push(rrx);
            let stop = &stop;
            workers.push(s.spawn(move || {
                for block in rx {
                    let checked = if stop.load(Ordering::Relaxed) {
                        Checked::default()
                    } else {
                        check_block(&block, &mut sink, verify)
                    };
                    if rtx.send(checked).is_err() {
                        break;
                    }
                }
                sink
            }));
        }
        let (order_tx, order_rx) = mpsc::channel::<Block>();
        let files = &files;
        let stop_ref = &stop;
        s.spawn(move || {
            let mut next = 0usize;
            for (index, (group, path)) in files.iter().enumerate() {
                let sent = read_blocks(*group, index, path, stop_ref, progress, |block| {
                    // The order keeps the block's bookkeeping without its data.
                    if order_tx.send(block.shallow()).is_err() {
                        return false;
                    }
                    let ok = to_workers[next % threads].send(block).is_ok();
                    next += 1;
                    ok
                });
                if !sent {
                    break;
                }
            }
        });

        // In chain order: links between blocks, headers, file boundaries.
        let mut prev_hash = String::new();
        let mut prev_file: Option<String> = None;
        let mut group = usize::MAX;
        let mut failure: Option<VerifyFailure> = None;
        for (n, marker) in order_rx.into_iter().enumerate() {
            let checked = from_workers[n % threads].recv().unwrap_or_default();
            if failure.is_some() {
                continue;
            }
            let path = files[marker.file].1;
            let fail = |line: u64, reason: String| VerifyFailure {
                file: path.clone(),
                line,
                reason,
            };
            if marker.group != group {
                group = marker.group;
                prev_hash.clear();
                prev_file = None;
            }
            if marker.file_start {
                report.chain.files += 1;
            }
            let result = in_order(&checked, verify, &mut prev_hash, prev_file.as_deref());
            report.chain.records += checked.records;
            for (line, why) in checked.unreadable {
                if report.unreadable.len() < MAX_LISTED {
                    report.unreadable.push(Unreadable {
                        at: Location {
                            file: path.clone(),
                            line,
                        },
                        why,
                    });
                }
            }
            report.unreadable_count += checked.unreadable_count;
            if let Err((line, reason)) = result {
                failure = Some(fail(line, reason));
                stop.store(true, Ordering::Relaxed);
                continue;
            }
            if let Some(why) = &marker.io_error {
                failure = Some(fail(0, format!("read error: {why}")));
                stop.store(true, Ordering::Relaxed);
                continue;
            }
            if let Some(line) = marker.torn {
                report.chain.torn.push(Location {
                    file: path.clone(),
                    line,
                });
            }
            if marker.file_end {
                prev_file = Some(base_name(path));
                report.chain.last_hash = prev_hash.clone();
            }
        }
        let sinks: Vec<S> = workers
            .into_iter()
            .map(|w| w.join().expect("a scan worker panicked"))
            .collect();
        match failure {
            Some(f) => Err(f),
            None => Ok(sinks),
        }
    });
    let sinks = outcome?;
    Ok((sinks, report))
}

/// The checks of one block that need the blocks before it.
fn in_order(
    checked: &Checked,
    verify: bool,
    prev_hash: &mut String,
    prev_file: Option<&str>,
) -> Result<(), (u64, String)> {
    // A failure inside the block is reported unless a link before it fails.
    let inner = checked.failure.clone();
    let before = |line: u64| inner.as_ref().is_none_or(|(l, _)| line < *l);
    if verify {
        if let Some((line, file, continues)) = &checked.header {
            if before(*line) {
                header_continues(file, continues, prev_file, prev_hash).map_err(|r| (*line, r))?;
            }
        }
        if let Some((line, id, first_prev)) = &checked.first {
            if before(*line) {
                links(id, first_prev, prev_hash).map_err(|r| (*line, r))?;
            }
        }
    }
    if let Some(f) = inner {
        return Err(f);
    }
    if let Some(last) = &checked.last_hash {
        prev_hash.clone_from(last);
    }
    Ok(())
}

/// A header's link to the file and the record before it.
fn header_continues(
    file: &str,
    continues: &str,
    prev_file: Option<&str>,
    prev_hash: &str,
) -> Result<(), String> {
    let expected_file = prev_file.unwrap_or("");
    if file != expected_file {
        return Err(if expected_file.is_empty() {
            format!("header names prev_file {file:?}, but no file comes before this one")
        } else {
            format!("header names prev_file {file:?}, but the previous file is {expected_file:?}")
        });
    }
    if continues != prev_hash {
        return Err(format!(
            "header continues from {continues:?}, but the chain before it ends at {prev_hash:?}"
        ));
    }
    Ok(())
}

/// A record's link to the record before it.
fn links(id: &str, prev: &str, expected: &str) -> Result<(), String> {
    if prev != expected {
        return Err(format!(
            "record {id} has prev_hash {prev:?}, but the record before it has hash {expected:?}: a record was removed, inserted or reordered"
        ));
    }
    Ok(())
}

/// A record's own hash against its stored bytes.
fn hashes(line: &[u8], id: &str, prev: &str, hash: &str) -> Result<(), String> {
    let computed = hash_of_stored_line(prev, line, hash).ok_or_else(|| {
        format!(
            "record {id} does not end with its hash field (\"hash\":\"sha256:…\"}}): not a line Rampart writes"
        )
    })?;
    if computed != hash {
        return Err(format!(
            "record {id} was changed: its hash is {hash}, its content hashes to {computed}"
        ));
    }
    Ok(())
}

/// Everything about one block that the block alone can tell.
fn check_block<S: LineSink>(block: &Block, sink: &mut S, verify: bool) -> Checked {
    let mut out = Checked::default();
    let mut seen_content = !block.file_start;
    let mut rest = &block.data[..];
    let lines = std::iter::from_fn(|| {
        if rest.is_empty() {
            return None;
        }
        let (line, after) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = after;
        Some(line)
    });
    for (line_no, raw) in (block.first_line..).zip(lines) {
        let line = raw.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let corrupt = |out: &mut Checked, why: String| {
            if verify {
                out.failure = Some((line_no, why));
                return true;
            }
            out.unreadable_count += 1;
            if out.unreadable.len() < MAX_LISTED {
                out.unreadable.push((line_no, why));
            }
            false
        };
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                let why = format!(
                    "not a valid audit record: invalid UTF-8 at column {}",
                    e.valid_up_to() + 1
                );
                if corrupt(&mut out, why) {
                    return out;
                }
                continue;
            }
        };
        match sink.line(text) {
            Err(why) => {
                if corrupt(&mut out, why) {
                    return out;
                }
            }
            Ok(Link::Loose) => {
                seen_content = true;
                if verify {
                    out.failure = Some((
                        line_no,
                        "an object that is neither an audit record (no id) nor a chain header"
                            .into(),
                    ));
                    return out;
                }
            }
            Ok(Link::Header {
                prev_file,
                chain_continue,
            }) => {
                if seen_content && verify {
                    out.failure = Some((
                        line_no,
                        "chain continuation header is not the first line of its file".into(),
                    ));
                    return out;
                }
                seen_content = true;
                out.header = Some((line_no, prev_file.into_owned(), chain_continue.into_owned()));
            }
            Ok(Link::Record {
                id,
                prev_hash,
                hash,
            }) => {
                seen_content = true;
                out.records += 1;
                if !verify {
                    continue;
                }
                if let Err(why) = hashes(line, &id, &prev_hash, &hash) {
                    out.failure = Some((line_no, why));
                    return out;
                }
                match &mut out.last_hash {
                    None => {
                        out.first = Some((line_no, id.into_owned(), prev_hash.into_owned()));
                    }
                    Some(last) => {
                        if let Err(why) = links(&id, &prev_hash, last) {
                            out.failure = Some((line_no, why));
                            return out;
                        }
                    }
                }
                out.last_hash = Some(hash.into_owned());
            }
        }
    }
    out
}

impl Block {
    /// The block's bookkeeping, without its lines.
    fn shallow(&self) -> Block {
        Block {
            group: self.group,
            file: self.file,
            first_line: self.first_line,
            data: Vec::new(),
            file_start: self.file_start,
            file_end: self.file_end,
            torn: self.torn,
            io_error: self.io_error.clone(),
        }
    }
}

/// Reads one file into blocks of whole lines and hands each to `send`
/// (which says whether to go on). An empty file is one empty block.
fn read_blocks(
    group: usize,
    file: usize,
    path: &Path,
    stop: &AtomicBool,
    progress: Option<&AtomicU64>,
    mut send: impl FnMut(Block) -> bool,
) -> bool {
    let new_block = |first_line: u64, file_start: bool| Block {
        group,
        file,
        first_line,
        data: Vec::with_capacity(BLOCK_BYTES + READ_BYTES),
        file_start,
        file_end: false,
        torn: None,
        io_error: None,
    };
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            let mut b = new_block(1, true);
            b.file_end = true;
            b.io_error = Some(format!("cannot open {}: {e}", path.display()));
            return send(b);
        }
    };
    let mut block = new_block(1, true);
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        // Read straight into the block, after the lines carried over
        // (into its spare capacity: nothing is zeroed first).
        let n = match (&mut f)
            .take(READ_BYTES as u64)
            .read_to_end(&mut block.data)
        {
            Ok(n) => {
                if let Some(p) = progress {
                    p.fetch_add(n as u64, Ordering::Relaxed);
                }
                n
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                block.file_end = true;
                block.io_error = Some(e.to_string());
                return send(block);
            }
        };
        if n == 0 {
            break;
        }
        if block.data.len() < BLOCK_BYTES {
            continue;
        }
        // Cut after the last newline; the rest starts the next block.
        let Some(cut) = memchr::memrchr(b'\n', &block.data) else {
            continue; // one very long line: keep reading
        };
        let lines = memchr::memchr_iter(b'\n', &block.data[..cut]).count() as u64 + 1;
        let mut next = new_block(block.first_line + lines, false);
        next.data.extend_from_slice(&block.data[cut + 1..]);
        block.data.truncate(cut);
        if !send(std::mem::replace(&mut block, next)) {
            return false;
        }
    }
    // The data is whole lines joined by newlines: drop the final newline,
    // or set a last line without one aside as torn.
    if block.data.last() == Some(&b'\n') {
        block.data.pop();
    } else if !block.data.is_empty() {
        let start = memchr::memrchr(b'\n', &block.data).map_or(0, |i| i + 1);
        let lines_before = memchr::memchr_iter(b'\n', &block.data[..start]).count() as u64;
        block.torn = Some(block.first_line + lines_before);
        block.data.truncate(start.saturating_sub(1));
    }
    block.file_end = true;
    send(block)
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
