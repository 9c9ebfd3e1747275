//! Verifying trails: every hash, every link, every continuation header.
//!
//! Owns the checks Go Rampart's verifier makes, line by line: each record's
//! hash is recomputed from its stored bytes (with the hash emptied) after the
//! previous hash; each record's `prev_hash` is the hash of the record before
//! it; a continuation header is the first line of its file, names the
//! previous file and continues from the last hash before it. A torn last
//! line is tolerated and reported. The first failure stops verification and
//! names its file and line. It never modifies a file.
//!
//! Hashing the stored bytes (rather than re-encoding the parsed record, as
//! Go does) checks exactly what is on disk, keeps numbers and fields this
//! crate does not model (newer Go fields, exact big integers) as written, and
//! means a line rewritten in another JSON form fails even if it means the
//! same: Rampart's writers never reformat a line.

use std::fmt;
use std::path::{Path, PathBuf};

use super::reader::{chain_groups, classify, LineContent, LineScanner, Location};
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

/// Verifies the trails in `paths` (files and directories; see
/// [`crate::audit::Reader::open`] for the order). Each directory is one
/// chain starting from an empty hash; so is each run of consecutive file
/// arguments.
pub fn verify(paths: &[PathBuf]) -> Result<VerifyReport, VerifyFailure> {
    let groups = chain_groups(paths).map_err(|e| VerifyFailure {
        file: paths.first().cloned().unwrap_or_default(),
        line: 0,
        reason: e.to_string(),
    })?;
    let mut report = VerifyReport::default();
    for files in &groups {
        report.chains += 1;
        report.last_hash = verify_chain(files, &mut report)?;
    }
    Ok(report)
}

fn verify_chain(files: &[PathBuf], report: &mut VerifyReport) -> Result<String, VerifyFailure> {
    let mut prev_hash = String::new();
    let mut prev_file: Option<String> = None;
    for path in files {
        report.files += 1;
        let fail = |line: u64, reason: String| VerifyFailure {
            file: path.clone(),
            line,
            reason,
        };
        let mut scanner = LineScanner::open(path).map_err(|e| fail(0, e.to_string()))?;
        let mut seen_content = false;
        loop {
            let (number, complete) = match scanner.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => return Err(fail(0, format!("read error: {e}"))),
            };
            if !complete {
                report.torn.push(Location {
                    file: path.clone(),
                    line: number,
                });
                break;
            }
            match classify(scanner.line()) {
                LineContent::Blank => {}
                LineContent::Corrupt(why) => return Err(fail(number, why)),
                LineContent::Header(header) => {
                    if seen_content {
                        return Err(fail(
                            number,
                            "chain continuation header is not the first line of its file".into(),
                        ));
                    }
                    let expected_file = prev_file.as_deref().unwrap_or("");
                    if header.prev_file != expected_file {
                        return Err(fail(
                            number,
                            if expected_file.is_empty() {
                                format!(
                                    "header names prev_file {:?}, but no file comes before this one",
                                    header.prev_file
                                )
                            } else {
                                format!(
                                    "header names prev_file {:?}, but the previous file is {:?}",
                                    header.prev_file, expected_file
                                )
                            },
                        ));
                    }
                    if header.chain_continue != prev_hash {
                        return Err(fail(
                            number,
                            format!(
                                "header continues from {:?}, but the chain before it ends at {:?}",
                                header.chain_continue, prev_hash
                            ),
                        ));
                    }
                    seen_content = true;
                }
                LineContent::Record(record) => {
                    seen_content = true;
                    let line = scanner.line().trim_ascii();
                    let computed = hash_of_stored_line(&record.prev_hash, line, &record.hash)
                        .ok_or_else(|| {
                            fail(
                                number,
                                format!(
                                    "record {} does not end with its hash field (\"hash\":\"sha256:…\"}}): not a line Rampart writes",
                                    record.id
                                ),
                            )
                        })?;
                    if computed != record.hash {
                        return Err(fail(
                            number,
                            format!(
                                "record {} was changed: its hash is {}, its content hashes to {}",
                                record.id, record.hash, computed
                            ),
                        ));
                    }
                    if record.prev_hash != prev_hash {
                        return Err(fail(
                            number,
                            format!(
                                "record {} has prev_hash {:?}, but the record before it has hash {:?}: a record was removed, inserted or reordered",
                                record.id, record.prev_hash, prev_hash
                            ),
                        ));
                    }
                    prev_hash = record.hash;
                    report.records += 1;
                }
            }
        }
        prev_file = Some(base_name(path));
    }
    Ok(prev_hash)
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
