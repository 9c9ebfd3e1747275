//! Verifying trails: every hash, every link, every continuation header.
//!
//! Owns the verdict `rampart audit verify` gives: the checks Go Rampart's
//! verifier makes (each record's hash recomputed from its stored bytes with
//! the hash emptied, each `prev_hash` the hash of the record before it, each
//! continuation header the first line of its file, naming the previous file
//! and continuing from the last hash before it), plus every record read as a
//! whole [`Record`], and a directory's trail must reach the end its writer
//! anchored ([`super::anchor`]). The line-by-line rules live in [`super::scan`], which
//! `init --from-audit` shares. A torn last line is tolerated and reported.
//! The first failure stops verification and names its file and line. It
//! never modifies a file.
//!
//! Hashing the stored bytes (rather than re-encoding the parsed record, as
//! Go does) checks exactly what is on disk, keeps numbers and fields this
//! crate does not model (newer Go fields, exact big integers) as written, and
//! means a line rewritten in another JSON form fails even if it means the
//! same: Rampart's writers never reformat a line.

use std::path::PathBuf;

use super::reader::{classify, LineContent};
use super::record::Record;
use std::sync::atomic::AtomicU64;

use super::scan::{default_threads, scan_with, LineSink, Link, VerifyFailure, VerifyReport};

/// Verifies the trails in `paths` (files and directories; see
/// [`crate::audit::Reader::open`] for the order). Each directory is one
/// chain starting from an empty hash; so is each run of consecutive file
/// arguments. Every record is also read as a whole [`Record`], so a line
/// whose hash holds but whose fields do not fit the schema fails too.
pub fn verify(paths: &[PathBuf]) -> Result<VerifyReport, VerifyFailure> {
    verify_with(paths, None)
}

/// [`verify`], adding every byte read to `progress` (see
/// [`super::scan::scan_with`]).
pub fn verify_with(
    paths: &[PathBuf],
    progress: Option<&AtomicU64>,
) -> Result<VerifyReport, VerifyFailure> {
    let sinks = (0..default_threads())
        .map(|_| Strict {
            lost: 0,
            cut_off: Vec::new(),
        })
        .collect();
    let (sinks, report) = scan_with(paths, true, sinks, progress)?;
    // A directory's trail must still reach the end its writer anchored.
    for dir in paths.iter().filter(|p| p.is_dir()) {
        super::anchor::check(dir).map_err(|(file, reason)| VerifyFailure {
            file,
            line: 0,
            reason,
        })?;
    }
    let mut chain = report.chain;
    chain.lost = sinks.iter().map(|s| s.lost).sum();
    chain.cut_off = sinks.into_iter().flat_map(|s| s.cut_off).collect();
    // Writers that died and whose gap no later writer noted yet.
    for dir in paths.iter().filter(|p| p.is_dir()) {
        for dead in super::writers::dead(dir) {
            chain.cut_off.push(format!(
                "the run of pid {} (started {}) was killed before it closed the trail: \
                 what its command did after its last record is not in it",
                dead.writer.pid, dead.writer.started
            ));
        }
    }
    Ok(chain)
}

/// Reads each line as a whole [`Record`] or a header; adds up `lost` and
/// keeps what the records of runs cut off say.
struct Strict {
    lost: u64,
    cut_off: Vec<String>,
}

impl LineSink for Strict {
    fn line<'l>(&mut self, line: &'l str) -> Result<Link<'l>, String> {
        match classify(line.as_bytes()) {
            LineContent::Blank => Ok(Link::Loose),
            LineContent::Corrupt(why) => Err(why),
            LineContent::Header(h) => Ok(Link::Header {
                prev_file: h.prev_file.into(),
                chain_continue: h.chain_continue.into(),
            }),
            LineContent::Record(r) => {
                self.lost += r.lost_count().unwrap_or(0);
                if let Some(m) = r.cut_off_message() {
                    self.cut_off.push(m.to_string());
                }
                let Record {
                    id,
                    prev_hash,
                    hash,
                    ..
                } = *r;
                Ok(Link::Record {
                    id: id.into(),
                    prev_hash: prev_hash.into(),
                    hash: hash.into(),
                })
            }
        }
    }
}
